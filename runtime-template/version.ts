// The runtime's version, as MCP clients and /healthz report it.
export const RUNTIME_VERSION = "0.1.0";
