package io.autoglm.cuda;

import java.io.PrintWriter;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

/**
 * Runs this module's tests — the backend contract on the CUDA backend first — where there is a JRE and a GPU but no
 * Maven: the bundle's {@code contract} stage ({@code tools/cuda-device-run.sh}). One line per test, then the
 * summary; exit status 1 unless every test ran and passed (a test aborted for want of a GPU counts against it).
 */
public final class ContractMain {
  private ContractMain() {}

  public static void main(String[] args) {
    LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(
        DiscoverySelectors.selectClass(CudaBackendContractTest.class),
        DiscoverySelectors.selectClass(FusionPolicyTest.class),
        DiscoverySelectors.selectClass(CudaSettingsTest.class),
        DiscoverySelectors.selectClass(CudaBackendTest.class)).build();
    SummaryGeneratingListener summary = new SummaryGeneratingListener();
    Launcher launcher = LauncherFactory.create();
    launcher.execute(request, summary, new TestExecutionListener() {
      @Override
      public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (id.isTest()) {
          System.out.printf("%-8s %s%s%n", result.getStatus(), id.getLegacyReportingName(),
              result.getThrowable().map(t -> ": " + t).orElse(""));
        }
      }

      @Override
      public void executionSkipped(TestIdentifier id, String reason) {
        System.out.printf("SKIPPED  %s: %s%n", id.getLegacyReportingName(), reason);
      }
    });
    summary.getSummary().printTo(new PrintWriter(System.out, true));
    long failed = summary.getSummary().getTotalFailureCount();
    long aborted = summary.getSummary().getTestsAbortedCount();
    boolean pass = failed == 0 && aborted == 0 && summary.getSummary().getTestsSucceededCount() > 0;
    System.out.printf("CONTRACT %s (%d passed, %d failed, %d aborted)%n", pass ? "PASS" : "FAIL",
        summary.getSummary().getTestsSucceededCount(), failed, aborted);
    System.exit(pass ? 0 : 1);
  }
}
