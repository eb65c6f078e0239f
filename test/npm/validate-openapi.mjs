// Validates an OpenAPI document against the official OpenAPI JSON schemas
// (3.0 or 3.1) and prints {"valid": bool, "version": "...", "errors": [...]}.
// Used by internal/httpapi's tests on the served document.
import { Validator } from "@seriousme/openapi-schema-validator";
import { readFile } from "node:fs/promises";

const doc = JSON.parse(await readFile(process.argv[2], "utf8"));
const validator = new Validator();
const res = await validator.validate(doc);
console.log(JSON.stringify({ valid: res.valid, version: validator.version, errors: res.errors ?? [] }));
process.exit(res.valid ? 0 : 1);
