package io.autoglm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;
import org.slf4j.helpers.BasicMDCAdapter;

class RequestLoggingTest {
  @Test
  void requestIdIsInTheMdcForTheScopeAndThePreviousOneComesBack() {
    BasicMDCAdapter mdc = new BasicMDCAdapter(); // slf4j-simple's own adapter is a no-op
    assertNull(mdc.get(RequestLogging.REQUEST_ID_KEY));
    try (RequestLogging.Scope outer = RequestLogging.requestId("req-1", mdc)) {
      assertEquals("req-1", mdc.get("autoglm.request_id"));
      try (RequestLogging.Scope inner = RequestLogging.requestId("req-2", mdc)) {
        assertEquals("req-2", mdc.get("autoglm.request_id"));
      }
      assertEquals("req-1", mdc.get("autoglm.request_id"));
    }
    assertNull(mdc.get(RequestLogging.REQUEST_ID_KEY));
  }

  @Test
  void promptTextOnlyWhenEnabled() {
    assertEquals("<prompt: 11 chars>", RequestLogging.prompt("secret plan", false));
    assertEquals("secret plan", RequestLogging.prompt("secret plan", true));
  }
}
