// A failed system call said in words a person reads, with the code kept for searching:
// `is a directory (EISDIR)`. The path is the caller's to name: Node's error does not always carry it
// (a read of a directory has none).

const MEANING: Readonly<Record<string, string>> = {
  ENOENT: "does not exist",
  EISDIR: "is a directory, not a file",
  ENOTDIR: "has a part that is not a directory",
  EACCES: "is not permitted to this user",
  EPERM: "is not permitted",
  ENXIO: "is a socket or a device, not a file",
  EROFS: "is on a read-only file system",
  ENOSPC: "is on a device with no space left",
  EDQUOT: "is on a device whose quota is used up",
  ELOOP: "has too many symbolic links",
  ENAMETOOLONG: "is too long a name",
  EMFILE: "cannot be opened: this process has too many files open",
  ENFILE: "cannot be opened: the system has too many files open",
  EBADF: "is not an open descriptor",
  EEXIST: "already exists",
  EINVAL: "is not something this operation accepts",
  EIO: "failed with an input/output error",
  EADDRINUSE: "is taken by another process",
  EADDRNOTAVAIL: "is not an address of this machine",
};

/** `is a directory, not a file (EISDIR)`; an error without a code keeps its message. */
export function systemErrorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string") return error instanceof Error ? error.message : String(error);
  const meaning = MEANING[code];
  return meaning === undefined ? code : `${meaning} (${code})`;
}
