// Every name index.d.ts declares is exported by the built package, and the reverse.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import * as client from "../dist/index.js";

test("index.d.ts and dist/index.js export the same runtime names", () => {
  const declarations = readFileSync(new URL("../index.d.ts", import.meta.url), "utf8");
  const declared = [...declarations.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(client).sort(), [...new Set(declared)].sort());
});

test("the bundled JSON Schema describes every server message type", async () => {
  const schema = JSON.parse(readFileSync(new URL("../dist/protocol.schema.json", import.meta.url), "utf8"));
  const types = schema.$defs.ServerMessage.oneOf.map((ref) => schema.$defs[ref.$ref.split("/").pop()].properties.type.const);
  for (const t of ["connection_ack", "audio_processed", "session_complete", "error_message", "score_update"]) {
    assert.ok(types.includes(t), t);
  }
});
