// The one place that loads @peculiar/x509 (over Node's WebCrypto): its DI container needs the
// reflect-metadata polyfill first. Imported lazily, so a server without `--ca` never evaluates it.

import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, id_ce_nameConstraints } from "@peculiar/asn1-x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509, AsnConvert, GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, id_ce_nameConstraints };

/** ECDSA P-256 with SHA-256: the CA's and every leaf's algorithm. */
export const SIGNING = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
