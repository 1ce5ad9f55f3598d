// Role corrections (`role_correction` events, docs/protocol.md): when the server decides a voice had the
// other role, every earlier line of that voice is shown with its new role. Pure, so it is tested in Node.

import { format, gettext } from "./i18n.js";

/**
 * The segments (plain objects) that the correction changes, each as a new object with its new role (and
 * speaker, when the voice was found to be another one: `merged_into`). Corrections apply in order.
 */
export function correctedSegments(segments, event) {
  const fixes = event.speakers || [];
  const out = [];
  for (const segment of segments) {
    let { speaker, role, role_confidence: confidence } = segment;
    for (const fix of fixes) {
      if (fix.speaker !== speaker) continue;
      speaker = fix.merged_into || speaker;
      role = fix.role;
      confidence = fix.role_confidence;
    }
    if (speaker !== segment.speaker || role !== segment.role) {
      out.push({ ...segment, speaker, role, role_confidence: confidence, corrected: true });
    }
  }
  return out;
}

/** A short sentence for the page: "Roles corrected: S1 is the candidate, S2 the interviewer". */
export function correctionMessage(event) {
  const parts = (event.speakers || []).map((s) => {
    if (s.merged_into) return format(gettext("%(speaker)s is %(other)s (same voice)"), { speaker: s.speaker, other: s.merged_into });
    const sentence = s.role === "interviewer" ? gettext("%(speaker)s is the interviewer")
      : s.role === "candidate" ? gettext("%(speaker)s is the candidate") : `%(speaker)s is the ${s.role}`;
    return format(sentence, { speaker: s.speaker });
  });
  return parts.length ? format(gettext("Roles corrected: %(list)s"), { list: parts.join(", ") }) : "";
}
