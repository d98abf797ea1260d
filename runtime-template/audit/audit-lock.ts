// One writer per audit file: a kernel-held lock beside it (`FILE.lock`), taken before the chain's
// tail is read, so two processes can never continue the same chain from the same record.

import { existsSync, statSync } from "node:fs";
import { FileLock, type AcquireOptions } from "../process/file-lock.js";

export const auditLockPath = (audit: string): string => `${audit}.lock`;

/** The audit file's lock; undefined for a device such as /dev/full, which holds no chain to protect. */
export async function lockAuditFile(audit: string, onWait?: AcquireOptions["onWait"]): Promise<FileLock | undefined> {
  if (existsSync(audit) && !statSync(audit).isFile()) return undefined;
  return FileLock.acquire(auditLockPath(audit), {
    what: `audit file ${audit}`,
    hint: "each server needs its own --audit file; to let several MCP clients share one server and one audit, start `keyrunner mcp --url http://HOST:PORT` for each of them instead of a server per client",
    ...(onWait ? { onWait } : {}),
  });
}
