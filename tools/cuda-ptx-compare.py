#!/usr/bin/env python3
"""Compares the PTX of every CUDA kernel and device function between a commit and this tree.

Usage: python3 tools/cuda-ptx-compare.py OLD_REV [ARCH] [--kept]
  (ARCH default compute_90a; needs nvcc on the PATH, and JAVA_HOME for jni.h)
  --kept: every function of OLD_REV must keep its PTX, under its name or, renamed (a new template parameter, say),
  under another name that only this tree has; functions only this tree has beyond those are listed, not failed.

Each tree's autoglm-cuda/src/main/native/*.cu is compiled to PTX (-O3, as build.sh compiles it); the functions are
matched by name, with what moving code between files changes normalised away: basic-block labels, local depot
numbers and the translation unit's tag in the mangled names of anonymous-namespace symbols. Prints the counts and
every function that differs or exists on one side only; exits 1 if any does.
"""
import glob, os, re, subprocess, sys, tempfile

NATIVE = "autoglm-cuda/src/main/native"


def ptx_functions(src_dir, arch, out_dir):
    jdk = os.environ.get("JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64")  # jni.h for the bridge's sources
    funcs = {}
    for cu in sorted(glob.glob(os.path.join(src_dir, "*.cu"))):
        ptx = os.path.join(out_dir, os.path.basename(cu) + ".ptx")
        subprocess.run([os.environ.get("NVCC", "nvcc"), "-ptx", "-O3", "-std=c++17", "-arch=" + arch,
                        "-diag-suppress", "177", "-I", src_dir, "-I", jdk + "/include",
                        "-I", jdk + "/include/linux", cu, "-o", ptx], check=True)
        for name, body in split(normalise(open(ptx).read())):
            funcs[name] = body
    return funcs


def normalise(text):
    text = re.sub(r"\$L__BB\d+_", "LBB_", text)
    text = re.sub(r"__local_depot\d+", "DEPOT", text)
    tag = r"_GLOBAL__N__[0-9a-f]{8}_\d+_\w*?_cu_[0-9a-f]{8}"
    text = re.sub(r"_ZZN\d+_INTERNAL_[0-9a-f]{8}_\d+_\w*?_cu_[0-9a-f]{8}\d+" + tag, "ZZANON", text)
    return re.sub(r"(_Z+N)\d+" + tag, r"\1ANON", text)


def split(text):
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"\s*(?:\.visible\s+|\.weak\s+)?(?:\.entry|\.func)\s+(?:\([^)]*\)\s*)?(\S+?)\(", lines[i])
        if m and not lines[i].rstrip().endswith(";"):
            start = i
            while not lines[i].startswith("}"):
                i += 1
            yield m.group(1), "\n".join(lines[start:i + 1])
        i += 1


def unnamed(name, body):
    """The body with the function's own name replaced: in its header, its parameters' names and (without the
    anonymous namespace's prefix) the names of its shared-memory variables."""
    body = body.replace(name, "SELF")
    if name.startswith("_ZNANON"):
        body = body.replace(name[len("_ZNANON"):], "SELF")
    return body


def main():
    args = [a for a in sys.argv[1:] if a != "--kept"]
    kept = "--kept" in sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    rev, arch = args[0], (args[1] if len(args) > 1 else "compute_90a")
    with tempfile.TemporaryDirectory() as tmp:
        old_src = os.path.join(tmp, "old")
        os.makedirs(old_src)
        archive = subprocess.run(["git", "archive", rev, NATIVE], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", old_src, "--strip-components=4"], input=archive, check=True)
        os.makedirs(os.path.join(tmp, "po"))
        os.makedirs(os.path.join(tmp, "pn"))
        old = ptx_functions(old_src, arch, os.path.join(tmp, "po"))
        new = ptx_functions(NATIVE, arch, os.path.join(tmp, "pn"))
    differ = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    print(f"{rev}: {len(old)} functions; this tree: {len(new)}; same PTX: {len(old.keys() & new.keys()) - len(differ)}")
    new_only = {unnamed(k, new[k]): k for k in new.keys() - old.keys()}
    renamed = {}
    for k in sorted(old.keys() - new.keys()):
        match = new_only.get(unnamed(k, old[k]))
        if match is not None:
            renamed[k] = match
            print("renamed, same PTX: " + k + " -> " + match)
        else:
            print("only in " + rev + ": " + k)
    for k in sorted(new.keys() - old.keys() - set(renamed.values())):
        print("only in this tree: " + k)
    for k in differ:
        print("differs: " + k)
    if kept:
        sys.exit(1 if differ or len(renamed) != len(old.keys() - new.keys()) else 0)
    sys.exit(1 if differ or old.keys() != new.keys() else 0)


if __name__ == "__main__":
    main()
