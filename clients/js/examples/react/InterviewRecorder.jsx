// A minimal React component on @interview-service/client: microphone → live transcript → report link.
// Build it with any bundler (Vite, Next.js); serve `pcm-worklet.js` from the package next to your assets.
//
//   <InterviewRecorder wsUrl="wss://interviews.example.com/ws/interviews/" ticketUrl="/api/ws-tickets/"
//                      workletUrl="/assets/pcm-worklet.js" language="ko" />
import { useEffect, useRef, useState } from "react";
import { LiveConnection, OpusChunker, opusSupported, startCapture } from "@interview-service/client";

export function InterviewRecorder({ wsUrl, ticketUrl, workletUrl, language = "auto", questionSet = "" }) {
  const [state, setState] = useState("idle");
  const [segments, setSegments] = useState([]); // committed: never change once received
  const [partial, setPartial] = useState("");
  const [score, setScore] = useState(null);
  const [reportUrl, setReportUrl] = useState(null);
  const session = useRef(null);

  async function start() {
    // Outside DEBUG the socket needs a one-time ticket (POST with the user's session or token).
    const { ticket } = await (await fetch(ticketUrl, { method: "POST", credentials: "include" })).json();
    const opus = await opusSupported(16000, 1);
    const connection = new LiveConnection({
      url: wsUrl,
      params: { ticket, language, question_set: questionSet, consent: "1", channels: "1",
                ...(opus ? { encoding: "opus" } : { sample_rate: "16000" }) },
      sampleRate: 16000,
      channels: 1,
      onState: (s) => setState(s),
      onEvent: (event) => {
        if (event.type === "audio_processed") {
          setSegments((old) => [...old.filter((s) => !event.segments.some((n) => n.id === s.id)), ...event.segments]);
          setPartial(event.partial);
        } else if (event.type === "score_update" && event.scope === "session") {
          setScore(event.overall);
        } else if (event.type === "session_complete") {
          setSegments(event.segments);
          setPartial("");
          setReportUrl(event.report_url);
        }
      },
    });
    const encoder = opus
      ? new OpusChunker({ sampleRate: 16000, channels: 1, chunkMs: 200,
                          onChunk: (payload, seconds) => connection.pushChunk(payload, seconds) })
      : null;
    const capture = await startCapture({
      channels: 1, chunkMs: 200, workletUrl,
      onChunk: (pcm, frames) => (encoder ? encoder.push(pcm, frames) : connection.pushChunk(pcm)),
    });
    connection.open();
    session.current = { connection, capture, encoder };
  }

  async function stop() {
    const { connection, capture, encoder } = session.current;
    await capture.stop(); // the last partial chunk first
    if (encoder) await encoder.flush();
    connection.end(); // remaining audio, then session_end; session_complete follows
  }

  useEffect(() => () => session.current?.capture.stop(), []);

  return (
    <section>
      <p>
        {state === "idle" ? <button onClick={start}>Start</button> : null}
        {state === "connected" || state === "reconnecting" ? <button onClick={stop}>End</button> : null}
        <span role="status"> {state}{score !== null ? ` · score ${score.toFixed(0)}` : ""}</span>
      </p>
      <ol aria-live="polite">
        {[...segments].sort((a, b) => a.id - b.id).map((s) => (
          <li key={s.id} data-role={s.role}>{s.role === "interviewer" ? "Q" : "A"}: {s.text}</li>
        ))}
      </ol>
      {partial ? <p><i>{partial}</i></p> : null}
      {reportUrl ? <a href={reportUrl}>Open the report</a> : null}
    </section>
  );
}
