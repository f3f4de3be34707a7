package io.autoglm.safetensors;

import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Resolves the files a checkpoint names (config.json, the shard index, the shards it lists) and refuses any that lies
 * outside the model folder: by an absolute path, by {@code ..}, or by a symbolic link, checked both on the
 * normalized path and on the real path ({@link Path#toRealPath}).
 *
 * <p>One exception, so that models load from the Hugging Face hub cache: when the model folder is
 * {@code <repo>/snapshots/<revision>}, links into {@code <repo>/blobs} are allowed, since that is where the hub keeps
 * every file of a snapshot.
 */
public final class ModelFolder {
  private ModelFolder() {}

  /**
   * The file {@code relative} inside {@code dir}: its real path when it exists, else its normalized path (callers
   * check existence and report a missing file themselves). {@code namedBy} starts the error message, e.g. {@code
   * "index /m/model.safetensors.index.json places tensor w in \"../x\""}.
   */
  public static Path resolve(Path dir, String relative, String namedBy) {
    Path folder = dir.toAbsolutePath().normalize();
    Path path;
    try {
      Path rel = Path.of(relative);
      if (rel.isAbsolute() || relative.isEmpty()) {
        throw new ModelLoadException(String.format("%s, which is %s, not a path relative to the model folder %s",
            namedBy, relative.isEmpty() ? "empty" : "absolute", folder));
      }
      path = folder.resolve(rel).normalize();
    } catch (InvalidPathException e) {
      throw new ModelLoadException(namedBy + ", which is not a valid path: " + e.getMessage(), e);
    }
    if (!path.startsWith(folder) || path.equals(folder)) {
      throw new ModelLoadException(String.format("%s, which resolves to %s, outside the model folder %s",
          namedBy, path, folder));
    }
    if (!Files.exists(path)) {
      return path;
    }
    try {
      Path real = path.toRealPath();
      for (Path root : allowedRoots(folder)) {
        if (real.startsWith(root) && !real.equals(root)) {
          return real;
        }
      }
      throw new ModelLoadException(String.format("%s, which is a symbolic link to %s, outside the model folder %s",
          namedBy, real, folder.toRealPath()));
    } catch (IOException e) {
      throw new ModelLoadException(namedBy + ", whose real path cannot be read: " + e, e);
    }
  }

  /** {@link #resolve} for a file the loader names itself ({@code config.json}). */
  public static Path file(Path dir, String name) {
    return resolve(dir, name, name + " in " + dir);
  }

  private static List<Path> allowedRoots(Path folder) throws IOException {
    List<Path> roots = new ArrayList<>();
    Path real = folder.toRealPath();
    roots.add(real);
    Path parent = real.getParent();
    if (parent != null && parent.getFileName() != null && parent.getFileName().toString().equals("snapshots")
        && parent.getParent() != null) {
      Path blobs = parent.getParent().resolve("blobs");
      if (Files.isDirectory(blobs)) {
        roots.add(blobs.toRealPath());
      }
    }
    return roots;
  }
}
