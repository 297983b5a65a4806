// Output formatting shared by every language's CLI.
import type { Hit } from "./client";

/**
 * formatScore writes a score with 4 decimals exactly as Python's `f"{x:.4f}"`, C's printf and
 * Go's `%.4f` do: ties round half to even, and -0 keeps its sign. `toFixed` alone rounds ties
 * up; a tie at the 5th decimal is a value n/32 with n odd, which float32 scores can hit.
 */
export function formatScore(score: number): string {
  const negative = score < 0 || Object.is(score, -0);
  const magnitude = Math.abs(score);
  let text = magnitude.toFixed(4);
  const scaled = magnitude * 10000; // exact for float32 scores: 24 + 14 bits of mantissa
  const floor = Math.floor(scaled);
  if (Number.isFinite(scaled) && scaled - floor === 0.5) {
    text = ((floor % 2 === 0 ? floor : floor + 1) / 10000).toFixed(4);
  }
  return negative ? `-${text}` : text;
}

/** formatHits writes one line per hit, best first: rank, id, score, title (tab-separated). */
export function formatHits(hits: readonly Hit[]): string {
  return hits.map((hit, index) => `${index + 1}\t${hit.productId}\t${formatScore(hit.score)}\t${hit.title}\n`).join("");
}
