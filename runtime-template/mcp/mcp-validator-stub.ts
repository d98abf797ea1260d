// Stands in for the MCP SDK's ajv-based JSON Schema validator inside the bundle: KeyRunner's MCP server
// never asks the client for structured input, so nothing is validated there, and ajv's compiler (which
// generates code from strings) stays out of the bundle.
export class AjvJsonSchemaValidator {
  getValidator(): never {
    throw new Error("JSON Schema validation of MCP messages is not available in the KeyRunner bundle");
  }
}
