// Generated code imports the runtime through this specifier; the bundler and the golden type-check
// map it onto the package's runtime-template/ folder.
export const RUNTIME = "@keyrunner/runtime/runtime-template";
