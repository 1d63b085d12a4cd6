/**
 * The WAI-ARIA tabs pattern's keys: Left/Right move to the previous/next tab (wrapping), Home and
 * End to the first and last. The tab `key` leads to among `names`, or undefined for another key.
 */
export function tabKeyTarget(key: string, names: readonly string[], active: string): string | undefined {
  const at = names.indexOf(active);
  const next = ({ ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: names.length - 1 } as Record<string, number>)[key];
  return next === undefined || names.length === 0 ? undefined : names[(next + names.length) % names.length];
}
