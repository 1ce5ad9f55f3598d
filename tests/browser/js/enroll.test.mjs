// Unit tests of static/console/enroll.js (the interviewer-enrollment countdown) under Node's test runner.
import assert from "node:assert/strict";
import { test } from "node:test";

import { enrollmentState } from "../../../static/console/enroll.js";

test("no enrollment: nothing to show", () => {
  assert.deepEqual(enrollmentState(3, 0), { active: false, left: 0, label: "" });
  assert.deepEqual(enrollmentState(3, "0"), { active: false, left: 0, label: "" });
});

test("counts down the seconds of captured audio, then says the voice is enrolled", () => {
  assert.deepEqual(enrollmentState(0, "10"), { active: true, left: 10, label: "Enrolling the interviewer's voice: 10 s left" });
  assert.equal(enrollmentState(2.2, 10).left, 8);
  assert.equal(enrollmentState(9.9, 10).active, true);
  const done = enrollmentState(10, 10);
  assert.equal(done.active, false);
  assert.equal(done.label, "Interviewer's voice enrolled.");
  assert.equal(enrollmentState(25, 10).active, false);
});
