package io.autoglm.spring;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A streaming chat request over a bare socket, so a test controls exactly when the client hangs up. */
final class RawStream implements AutoCloseable {
  private final Socket socket;
  private final BufferedReader in;
  final String statusLine;

  RawStream(int port, String apiKey, String body) throws IOException {
    socket = new Socket("localhost", port);
    OutputStream out = socket.getOutputStream();
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + (apiKey == null ? "" : "Authorization: Bearer " + apiKey + "\r\n")
        + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(bytes);
    out.flush();
    in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    statusLine = in.readLine();
  }

  /** The rest of the response, for a failure message. */
  String rest() {
    StringBuilder b = new StringBuilder();
    try {
      for (String line = in.readLine(); line != null && b.length() < 4000; line = in.readLine()) {
        b.append(line).append('\n');
        if (line.startsWith("{")) {
          break;
        }
      }
    } catch (IOException e) {
      b.append(e);
    }
    return b.toString();
  }

  /** A long greedy chat stream: {@code maxTokens} tokens, eos ignored. */
  static String longChat(int maxTokens) {
    return "{\"model\":\"" + TestModel.ID + "\",\"stream\":true,\"max_tokens\":" + maxTokens + ",\"ignore_eos\":true,"
        + "\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"Write a very long story\"}]}";
  }

  /** Reads until {@code n} SSE data lines have arrived; returns how many did before the stream ended. */
  int readChunks(int n) throws IOException {
    int chunks = 0;
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      if (line.startsWith("data:")) {
        if (!line.startsWith("data: ")) {
          throw new AssertionError("SSE line is not in OpenAI's 'data: ' form: " + line);
        }
        if (++chunks == n) {
          break;
        }
      }
    }
    return chunks;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
