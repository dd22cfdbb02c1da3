// Command lines as the machine's shell-like entries (Machine.xl, `xenode xl`)
// take them: split as a POSIX shell splits words, without expansion.

/** Shell-like split: whitespace separates words; '…' and "…" quote (also inside a word). An unclosed quote runs to the end. */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q = '';
  for (const ch of s) {
    if (q) {
      if (ch === q) q = '';
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      q = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}
