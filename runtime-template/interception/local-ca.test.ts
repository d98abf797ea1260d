import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CaExists, readCaFiles, writeCaFiles } from "./ca-files.js";
import { LeafCache } from "./leaf-cache.js";
import { CaError, createCa, loadCa } from "./local-ca.js";
import { X509Certificate } from "node:crypto";

describe("the CA's name constraint", () => {
  it.each([
    ["the named host", "api.stripe.com", true],
    ["a subdomain of a named host (RFC 5280 dNSName semantics)", "files.api.stripe.com", true],
    ["a host only ending like one", "evilapi.stripe.com", false],
    ["another host", "api.github.com", false],
    ["an IP address, when no tool names one", "127.0.0.1", false],
    ["an IPv6 address, when no tool names one", "::1", false],
  ])("%s", async (_name, host, permitted) => {
    const pem = await createCa(["api.stripe.com", "localhost"]);
    const ca = await loadCa(pem.certPem, pem.keyPem);
    expect(ca.permits(host)).toBe(permitted);
  });

  it("an IP origin is permitted as that one address", async () => {
    const pem = await createCa(["127.0.0.1", "localhost"]);
    const ca = await loadCa(pem.certPem, pem.keyPem);
    expect([ca.permits("127.0.0.1"), ca.permits("127.0.0.2"), ca.permits("localhost"), ca.permits("example.com")]).toEqual([true, false, true, false]);
  });
});

describe("loading a CA", () => {
  it("refuses a key that is not the certificate's, an expired CA, and text that is no key — never quoting the key", async () => {
    const a = await createCa(["localhost"]);
    const b = await createCa(["localhost"]);
    await expect(loadCa(a.certPem, b.keyPem)).rejects.toThrow(new CaError("ca-key.pem is not the key of ca.pem"));
    await expect(loadCa(a.certPem, a.keyPem, new Date(Date.now() + 400 * 86_400_000))).rejects.toThrow(/the CA expired on/);
    const error = await loadCa(a.certPem, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n").catch((e: Error) => e);
    expect((error as Error).message).toBe("ca-key.pem is not a PKCS#8 ECDSA P-256 private key");
  });

  it("mints leaves for a host, signed by the CA, cached", async () => {
    const pem = await createCa(["localhost"]);
    const ca = await loadCa(pem.certPem, pem.keyPem);
    const leaves = new LeafCache(ca);
    const first = await leaves.contextFor("localhost");
    expect(await leaves.contextFor("LOCALHOST")).toBe(first);
    expect(new X509Certificate(pem.certPem).ca).toBe(true);
  });
});

describe("the CA's files", () => {
  it("writes the key 0600, refuses to overwrite without force, replaces with it", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "kr-ca-")), "ca");
    const first = await createCa(["localhost"]);
    writeCaFiles(dir, first, false);
    expect(statSync(join(dir, "ca-key.pem")).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const second = await createCa(["localhost"]);
    expect(() => writeCaFiles(dir, second, false)).toThrow(CaExists);
    expect(readFileSync(join(dir, "ca.pem"), "utf8")).toBe(first.certPem);
    writeCaFiles(dir, second, true);
    expect(readCaFiles(dir)).toEqual(second);
  });

  it("refuses a key file others can read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kr-ca-"));
    const pem = await createCa(["localhost"]);
    writeFileSync(join(dir, "ca.pem"), pem.certPem);
    writeFileSync(join(dir, "ca-key.pem"), pem.keyPem);
    chmodSync(join(dir, "ca-key.pem"), 0o644);
    expect(() => readCaFiles(dir)).toThrow(/is readable by other users \(mode 644\); chmod 600 it/);
  });
});
