package io.autoglm.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Linux's view of this machine's TCP sockets (/proc/net/tcp and tcp6): how many a server port holds in a state. */
public final class TcpStates {
  /** The kernel's code for CLOSE_WAIT: the peer closed, this side has not. */
  public static final String CLOSE_WAIT = "08";

  private TcpStates() {}

  /** Sockets whose local port is {@code port} (the server's side of its connections) in {@code state}. */
  public static long count(int port, String state) throws IOException {
    String local = String.format(":%04X", port);
    long n = 0;
    for (String file : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      Path p = Path.of(file);
      if (!Files.isReadable(p)) {
        continue;
      }
      List<String> lines = Files.readAllLines(p);
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        if (f[1].endsWith(local) && f[3].equals(state)) {
          n++;
        }
      }
    }
    return n;
  }
}
