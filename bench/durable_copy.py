#!/usr/bin/env python3
"""The durability floor of the small-files case: no network, no daemon, just what bgcopy's
promise costs on this disk. Copies every file of SRC_DIR (sorted by name) into DEST_DIR the way
bgcopy places a download: write a hidden staging file, fdatasync it, and once all are written,
rename each to its final name and fsync the directory.

    durable_copy.py SRC_DIR DEST_DIR THREADS

THREADS=1 is bgcopy's model (a job's files one after another, SPEC "in the order added");
more threads show what overlapping the flushes would buy. bench/run.sh reports both next to
curl --parallel, which writes without any flush."""
import os
import sys
import threading


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, dest, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = sorted(os.listdir(src))

    def place(chunk):
        for name in chunk:
            with open(os.path.join(src, name), "rb") as f:
                data = f.read()
            fd = os.open(os.path.join(dest, "." + name + ".part"),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fdatasync(fd)
            finally:
                os.close(fd)

    workers = [threading.Thread(target=place, args=(names[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for name in names:
        os.rename(os.path.join(dest, "." + name + ".part"), os.path.join(dest, name))
    dfd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


if __name__ == "__main__":
    main()
