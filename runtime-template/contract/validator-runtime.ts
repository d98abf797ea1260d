// What ajv standalone validators need at run time, without the ajv compiler.
import { codePointLength } from "./policy-helpers.js";

export const ucs2length = codePointLength;
