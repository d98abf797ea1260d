// The CA's folder: DIR/ca.pem (the certificate agents trust) and DIR/ca-key.pem (the key, mode 0600).
// Written atomically (a temporary file renamed into place), never over an existing CA without --force.

import { chmodSync, existsSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, closeSync, fsyncSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { CaError, type CaPem } from "./local-ca.js";
import { makeDirectory } from "../process/make-directory.js";
import { systemErrorText } from "../process/system-error-text.js";

export const CA_CERT_FILE = "ca.pem";
export const CA_KEY_FILE = "ca-key.pem";

export const caPaths = (dir: string) => ({ cert: join(dir, CA_CERT_FILE), key: join(dir, CA_KEY_FILE) });

/** Writes `text` to `path` with `mode` in one step: a temporary file, fsynced, renamed into place. */
export function writeAtomically(path: string, text: string, mode: number, replace: boolean): void {
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(temporary, "wx", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // The umask may have narrowed the mode; never widen it beyond `mode`, and make it exact.
  chmodSync(temporary, mode);
  try {
    if (replace) renameSync(temporary, path);
    // Without replace, a link fails if the file appeared meanwhile: no race overwrites a CA.
    else linkSync(temporary, path);
  } finally {
    if (existsSync(temporary)) unlinkSync(temporary);
  }
}

export class CaExists extends Error {}

/** Writes a CA into `dir` (created 0700 if missing); refuses when either file exists, unless `force`. */
export function writeCaFiles(dir: string, ca: CaPem, force: boolean): void {
  makeDirectory(dir, 0o700);
  const paths = caPaths(dir);
  const present = [paths.cert, paths.key].filter((p) => existsSync(p));
  if (present.length > 0 && !force) throw new CaExists(`${present.join(" and ")} already exist${present.length === 1 ? "s" : ""}; pass --force to replace the CA (agents must then trust the new ca.pem)`);
  // The key first: a certificate never stands beside a key that is not its own for longer than a rename.
  writeAtomically(paths.key, ca.keyPem, 0o600, force);
  writeAtomically(paths.cert, ca.certPem, 0o644, force);
}

/** The PEM texts of the CA in `dir`; the key file must not be readable by others. */
export function readCaFiles(dir: string): CaPem {
  const paths = caPaths(dir);
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(paths.cert, "utf8");
  } catch (error) {
    throw new CaError(`cannot read ${paths.cert}: ${systemErrorText(error)} (make a CA with \`keyrunner ca init ${dir}\`)`);
  }
  try {
    const mode = statSync(paths.key).mode & 0o077;
    if (mode !== 0) throw new CaError(`${paths.key} is readable by other users (mode ${(statSync(paths.key).mode & 0o777).toString(8)}); chmod 600 it`);
    keyPem = readFileSync(paths.key, "utf8");
  } catch (error) {
    if (error instanceof CaError) throw error;
    throw new CaError(`cannot read ${paths.key}: ${systemErrorText(error)}`);
  }
  return { certPem, keyPem };
}
