package io.autoglm.spring;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 over a bare socket, for what java.net.http will not send or read: any method on any path, a body that is
 * announced but not (yet) sent, a header a client library would fix up, and the moment the server answers.
 */
final class RawHttp implements AutoCloseable {
  /** A response as it came: status, headers (lower-case names), body (chunked decoded). */
  record Response(int status, Map<String, String> headers, String body) {}

  final Socket socket;
  private final InputStream in;

  RawHttp(int port) throws IOException {
    socket = new Socket("localhost", port);
    socket.setSoTimeout(30_000);
    in = socket.getInputStream();
  }

  /** Sends the request line and headers (with {@code Host}) and then {@code body}, which may be empty. */
  RawHttp send(String method, String path, Map<String, String> headers, byte[] body) throws IOException {
    StringBuilder head = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n");
    headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
    head.append("\r\n");
    OutputStream out = socket.getOutputStream();
    out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
    out.write(body);
    out.flush();
    return this;
  }

  static Response exchange(int port, String method, String path, Map<String, String> headers, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    Map<String, String> h = new LinkedHashMap<>(headers);
    if (bytes.length > 0 || method.equals("POST")) {
      h.putIfAbsent("Content-Length", Integer.toString(bytes.length));
    }
    try (RawHttp http = new RawHttp(port)) {
      return http.send(method, path, h, bytes).read();
    }
  }

  /** Reads one response. */
  Response read() throws IOException {
    return read(true);
  }

  /** Reads the status line and headers of a response that has no body (to HEAD). */
  Response readHead() throws IOException {
    return read(false);
  }

  private Response read(boolean withBody) throws IOException {
    String status = line();
    if (status == null) {
      throw new IOException("the server closed the connection without a response");
    }
    Map<String, String> headers = new LinkedHashMap<>();
    for (String l = line(); l != null && !l.isEmpty(); l = line()) {
      int colon = l.indexOf(':');
      headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
    }
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    if (!withBody) {
      return new Response(Integer.parseInt(status.split(" ")[1]), headers, "");
    }
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      for (int size = Integer.parseInt(line().trim(), 16); size > 0; size = Integer.parseInt(line().trim(), 16)) {
        body.write(in.readNBytes(size));
        line();
      }
      line();
    } else if (headers.containsKey("content-length")) {
      body.write(in.readNBytes(Integer.parseInt(headers.get("content-length"))));
    }
    return new Response(Integer.parseInt(status.split(" ")[1]), headers, body.toString(StandardCharsets.UTF_8));
  }

  /** One CRLF-terminated line, or null at the end of the stream. */
  String line() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c >= 0; c = in.read()) {
      if (c == '\n') {
        String s = b.toString(StandardCharsets.UTF_8);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.UTF_8);
  }

  /** Whether the server has closed its side: a read returns end of stream (waits up to {@code millis}). */
  boolean serverClosed(int millis) throws IOException {
    socket.setSoTimeout(millis);
    try {
      while (true) {
        if (in.read() < 0) {
          return true;
        }
      }
    } catch (java.net.SocketTimeoutException e) {
      return false;
    } catch (java.net.SocketException e) { // reset: closed too
      return true;
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
