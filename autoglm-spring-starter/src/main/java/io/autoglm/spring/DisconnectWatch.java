package io.autoglm.spring;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.context.request.NativeWebRequest;
import org.springframework.web.context.request.async.DeferredResult;
import org.springframework.web.context.request.async.DeferredResultProcessingInterceptor;
import org.springframework.web.context.request.async.WebAsyncUtils;

/**
 * Notices that the client of one pending async request hung up, although nothing is being written to it.
 *
 * <p>A servlet container learns of a closed connection only when it reads or writes it, and Tomcat neither reads
 * (the body is already read) nor writes (the answer is not ready) while a request waits for the engine. So every
 * interval this probes the connection with a non-blocking read through the Servlet API: with a (no-op)
 * {@link ReadListener} set, {@link ServletInputStream#available()} makes Tomcat try a non-blocking socket read, and an
 * end of stream or a reset reports as available data past the end of the body. (Tomcat 11 reports buffered bytes
 * and an end of stream on every call, so the second {@code available()} below filters nothing; a pipelining client
 * could be taken for gone. HTTP clients seldom pipeline.)
 *
 * <p>Invariant: no probe runs once {@link #stop()} has returned, nor after Spring's async processing of the request
 * has timed out, failed or completed, so a probe never touches a connection the container has moved on with.
 * {@code onGone} runs at most once, on the probe thread.
 */
final class DisconnectWatch {
  private static final Logger LOG = LoggerFactory.getLogger(DisconnectWatch.class);
  private static final ReadListener NO_OP = new ReadListener() {
    @Override
    public void onDataAvailable() {}

    @Override
    public void onAllDataRead() {}

    @Override
    public void onError(Throwable t) {}
  };

  private final HttpServletRequest request;
  private final Runnable onGone;
  private ScheduledFuture<?> task; // written under this lock
  private boolean stopped;
  private boolean listening;

  private DisconnectWatch(HttpServletRequest request, Runnable onGone) {
    this.request = request;
    this.onGone = onGone;
  }

  /** Watches {@code request} until stopped; call while the request is being handled (before it goes async). */
  static DisconnectWatch start(HttpServletRequest request, DisconnectWatcher watcher, Runnable onGone) {
    DisconnectWatch w = new DisconnectWatch(request, onGone);
    LOG.debug("client port {}: watching {}", request.getRemotePort(), request.getRequestURI());
    WebAsyncUtils.getAsyncManager(request).registerDeferredResultInterceptor(w, new StopOnAsyncEnd(w));
    watcher.schedule(w);
    return w;
  }

  synchronized void scheduled(ScheduledFuture<?> task) {
    if (stopped) {
      task.cancel(false);
    } else {
      this.task = task;
    }
  }

  /** Ends the watch; waits for a probe in progress, so none runs after this returns. Idempotent. */
  synchronized void stop() {
    stopped = true;
    if (task != null) {
      task.cancel(false);
    }
  }

  /** One probe; runs on the watcher's thread. */
  void probe() {
    synchronized (this) {
      if (stopped || !request.isAsyncStarted()) {
        return;
      }
      try {
        ServletInputStream in = request.getInputStream();
        if (!listening) {
          in.setReadListener(NO_OP);
          listening = true;
        }
        boolean gone = in.available() > 0 && in.available() > 0; // twice: see the class comment
        if (!gone) {
          return;
        }
        LOG.debug("client port {}: taken for gone", request.getRemotePort());
      } catch (IOException | RuntimeException e) { // a recycled request, a container without non-blocking reads
        LOG.debug("probe failed; watch stopped", e);
        stop();
        return;
      }
      stop();
    }
    onGone.run();
  }

  /** Stops the watch when Spring's async processing of the request ends in any way, before it dispatches. */
  private record StopOnAsyncEnd(DisconnectWatch watch) implements DeferredResultProcessingInterceptor {
    @Override
    public <T> void postProcess(NativeWebRequest request, DeferredResult<T> result, Object value) {
      watch.stop();
    }

    @Override
    public <T> boolean handleTimeout(NativeWebRequest request, DeferredResult<T> result) {
      watch.stop();
      return true;
    }

    @Override
    public <T> boolean handleError(NativeWebRequest request, DeferredResult<T> result, Throwable t) {
      watch.stop();
      return true;
    }

    @Override
    public <T> void afterCompletion(NativeWebRequest request, DeferredResult<T> result) {
      watch.stop();
    }
  }
}
