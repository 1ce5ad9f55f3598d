// Interviewer enrollment on the live page: the first `enroll_s` seconds of audio are the interviewer reading
// a prompt (docs/console.md). Pure, so it is tested in Node.

import { format, gettext } from "./i18n.js";

/** Where the enrollment stands after `audioSeconds` of captured audio: active, seconds left, a label. */
export function enrollmentState(audioSeconds, enrollSeconds) {
  const total = Number(enrollSeconds) || 0;
  if (total <= 0) return { active: false, left: 0, label: "" };
  const left = Math.max(0, Math.ceil(total - (Number(audioSeconds) || 0)));
  if (left <= 0) return { active: false, left: 0, label: gettext("Interviewer's voice enrolled.") };
  return { active: true, left, label: format(gettext("Enrolling the interviewer's voice: %(left)s s left"), { left }) };
}
