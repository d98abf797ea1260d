// One writer per audit file: a kernel-held lock beside it (`FILE.lock`), taken before the chain's
// tail is read, so two processes can never continue the same chain from the same record. The same file
// reached by another name (a symbolic or hard link, `--audit /elsewhere/link.jsonl`) has another
// `FILE.lock`; so on Linux the file itself is locked as well, by its device and inode, with a socket in
// the abstract namespace (no file, released by the kernel with its holder).

import { closeSync, existsSync, fstatSync, openSync, statSync, constants } from "node:fs";
import { FileLock, type AcquireOptions } from "../process/file-lock.js";

export const auditLockPath = (audit: string): string => `${audit}.lock`;

/** The locks of one audit file, released together. */
export interface AuditLock {
  release(): Promise<void>;
}

/** The audit file's locks; undefined for a device such as /dev/full, which holds no chain to protect. */
export async function lockAuditFile(audit: string, onWait?: AcquireOptions["onWait"]): Promise<AuditLock | undefined> {
  if (existsSync(audit) && !statSync(audit).isFile()) return undefined;
  const options = {
    what: `audit file ${audit}`,
    hint: "each server needs its own --audit file; to let several MCP clients share one server and one audit, start `keyrunner mcp --url http://HOST:PORT` for each of them instead of a server per client",
    ...(onWait ? { onWait } : {}),
  };
  const byPath = await FileLock.acquire(auditLockPath(audit), options);
  if (process.platform !== "linux") return byPath;
  try {
    const byFile = await FileLock.acquire(`\0keyrunner-audit-${fileIdentity(audit)}`, options);
    return { release: () => Promise.all([byFile.release(), byPath.release()]).then(() => undefined) };
  } catch (error) {
    await byPath.release();
    throw error;
  }
}

/** The audit file's device and inode, creating the file (as the log would) where it is not there yet. */
function fileIdentity(audit: string): string {
  const fd = openSync(audit, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640);
  try {
    const stat = fstatSync(fd, { bigint: true });
    return `${stat.dev}-${stat.ino}`;
  } finally {
    closeSync(fd);
  }
}
