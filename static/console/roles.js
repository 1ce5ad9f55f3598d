// Role corrections (`role_correction` events, docs/protocol.md): when the server decides a voice had the
// other role, every earlier line of that voice is shown with its new role. Pure, so it is tested in Node.

/** The segments (plain objects) whose role the correction changes, each as a new object with the new role. */
export function correctedSegments(segments, event) {
  const bySpeaker = new Map();
  for (const s of event.speakers || []) bySpeaker.set(s.speaker, s);
  const ids = new Set(event.segment_ids || []);
  const out = [];
  for (const segment of segments) {
    const fix = bySpeaker.get(segment.speaker);
    if (fix && (segment.role !== fix.role || ids.has(segment.id))) {
      out.push({ ...segment, role: fix.role, role_confidence: fix.role_confidence, corrected: true });
    }
  }
  return out;
}

/** A short sentence for the page: "Roles corrected: S1 is the candidate, S2 the interviewer". */
export function correctionMessage(event) {
  const parts = (event.speakers || []).map((s) => `${s.speaker} is the ${s.role}`);
  return parts.length ? `Roles corrected: ${parts.join(", ")}` : "";
}
