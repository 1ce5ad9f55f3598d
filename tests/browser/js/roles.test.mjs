// Unit tests of static/console/roles.js (role_correction handling) under Node's test runner.
import assert from "node:assert/strict";
import { test } from "node:test";

import { correctedSegments, correctionMessage } from "../../../static/console/roles.js";

const seg = (id, speaker, role) => ({ id, speaker, role, role_confidence: 0.8, text: `line ${id}` });

test("earlier lines of a corrected voice take the new role; other voices stay", () => {
  const segments = [seg(0, "S1", "interviewer"), seg(1, "S2", "candidate"), seg(2, "S1", "interviewer")];
  const event = {
    type: "role_correction", segment_ids: [0, 2],
    speakers: [{ speaker: "S1", previous_role: "interviewer", role: "candidate", role_confidence: 0.93, reason: "evidence" }],
  };
  const out = correctedSegments(segments, event);
  assert.deepEqual(out.map((s) => [s.id, s.role, s.role_confidence, s.corrected]), [
    [0, "candidate", 0.93, true], [2, "candidate", 0.93, true],
  ]);
  assert.equal(segments[0].role, "interviewer"); // inputs are not mutated
  assert.equal(correctionMessage(event), "Roles corrected: S1 is the candidate");
});

test("lines that already carry the new role are left alone", () => {
  const event = { speakers: [{ speaker: "S2", role: "interviewer", role_confidence: 0.9 }], segment_ids: [] };
  assert.deepEqual(correctedSegments([seg(3, "S2", "interviewer")], event), []);
  assert.deepEqual(correctedSegments([seg(4, "S2", "candidate")], {}), []);
});

test("a voice merged into another takes its name and role, in the order the corrections came", () => {
  const event = {
    segment_ids: [1],
    speakers: [
      { speaker: "S2", previous_role: "interviewer", role: "candidate", role_confidence: 0.9, reason: "same voice as S1", merged_into: "S1" },
    ],
  };
  const out = correctedSegments([seg(0, "S1", "candidate"), seg(1, "S2", "interviewer")], event);
  assert.deepEqual(out.map((s) => [s.id, s.speaker, s.role]), [[1, "S1", "candidate"]]);
  assert.equal(correctionMessage(event), "Roles corrected: S2 is S1 (same voice)");
});
