// Leaf certificates for intercepted hosts: minted on first use, signed by the local CA, kept in a
// bounded cache and minted again a day before they expire. Each leaf has its own P-256 key.

import type { SecureContext } from "node:tls";
import { webcrypto } from "node:crypto";
import { isIP } from "node:net";
import type { LoadedCa } from "./local-ca.js";
import { bareHost, randomSerial } from "./local-ca.js";
import { SIGNING, x509 } from "./x509.js";

/** How long a leaf is valid (capped by the CA's own end). */
export const LEAF_VALIDITY_MS = 7 * 86_400_000;
const RENEW_BEFORE_MS = 86_400_000;
/** Hosts kept; a config names few, and the CONNECT check admits only those. */
const CACHE_SIZE = 256;

interface Leaf {
  readonly context: SecureContext;
  readonly notAfter: number;
}

export class LeafCache {
  readonly #leaves = new Map<string, Promise<Leaf>>();
  constructor(
    private readonly ca: LoadedCa,
    private readonly now: () => number = Date.now,
  ) {}

  /** The TLS context presenting a leaf for `host`, minted when missing or near its end. */
  async contextFor(host: string): Promise<SecureContext> {
    const name = bareHost(host);
    const cached = this.#leaves.get(name);
    if (cached !== undefined) {
      const leaf = await cached.catch(() => undefined);
      if (leaf !== undefined && leaf.notAfter - this.now() > RENEW_BEFORE_MS) {
        // Most recently used last: the first entry is the one to evict.
        this.#leaves.delete(name);
        this.#leaves.set(name, cached);
        return leaf.context;
      }
      this.#leaves.delete(name);
    }
    const minting = this.#mint(name);
    this.#leaves.set(name, minting);
    if (this.#leaves.size > CACHE_SIZE) this.#leaves.delete(this.#leaves.keys().next().value!);
    minting.catch(() => this.#leaves.get(name) === minting && this.#leaves.delete(name));
    return (await minting).context;
  }

  async #mint(host: string): Promise<Leaf> {
    const now = this.now();
    const notAfter = Math.min(now + LEAF_VALIDITY_MS, this.ca.notAfter.getTime());
    const keys = (await webcrypto.subtle.generateKey(SIGNING, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      // No CN: OpenSSL reads a CN that looks like a host name (127.0.0.1 does) against the CA's DNS
      // constraints; the name is in the subjectAltName alone.
      subject: "O=KeyRunner interception",
      issuer: this.ca.cert.subject,
      notBefore: new Date(now - 3_600_000),
      notAfter: new Date(notAfter),
      signingKey: this.ca.key,
      publicKey: keys.publicKey as unknown as CryptoKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([isIP(host) === 0 ? { type: "dns", value: host } : { type: "ip", value: host }]),
        await x509.AuthorityKeyIdentifierExtension.create(this.ca.cert),
      ],
    });
    const keyDer = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
    const key = `-----BEGIN PRIVATE KEY-----\n${keyDer.toString("base64")}\n-----END PRIVATE KEY-----\n`;
    // node:tls is taken on the first leaf, not at every start.
    return { context: process.getBuiltinModule("node:tls").createSecureContext({ key, cert: cert.toString("pem"), minVersion: "TLSv1.2" }), notAfter };
  }
}
