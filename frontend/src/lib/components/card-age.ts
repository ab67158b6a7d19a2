// A card says once when its values were measured (its footer); each row of values asks the card
// for that time, to say its own age only when it differs.
import { getContext, setContext } from 'svelte';

const KEY = Symbol('card-updated');

/** Called by a card: when its newest value was measured (Unix s), or `null`. */
export function setCardUpdated(updated: () => number | null): void {
	setContext(KEY, updated);
}

/** The time the enclosing card shows, or `undefined` outside a card. */
export function cardUpdated(): (() => number | null) | undefined {
	return getContext(KEY);
}
