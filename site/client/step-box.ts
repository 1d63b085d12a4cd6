/** A step's own checkbox: the task item's first child, or inside its paragraph when the item is loose. */
export function stepBox(item: Element | null | undefined): HTMLInputElement | null {
  return item?.querySelector<HTMLInputElement>(':scope > input[type="checkbox"], :scope > p > input[type="checkbox"]') ?? null;
}
