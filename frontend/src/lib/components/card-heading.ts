// A card's title in its place: level 2 on the overview's plain grid, 3 inside a section of it (a
// Pi's cards under its room's name, `CardGroup`), so the headings nest as the page does; in a
// section, the card is named with the section's heading too ("Sense HAT Kitchen"), as two Pis'
// cards of the same kind would otherwise be two landmarks of one name.
import { getContext, setContext } from 'svelte';

const KEY = Symbol('card-heading');

export interface CardHeading {
	level: 2 | 3;
	/** The id of the enclosing section's heading. */
	groupTitleId: string | null;
}

/** Called by a group of cards: its cards' titles are one level below its heading `titleId`. */
export function setCardHeading(titleId: string): void {
	setContext<CardHeading>(KEY, { level: 3, groupTitleId: titleId });
}

/** The level of a card's title here, and the enclosing section's heading. */
export function cardHeading(): CardHeading {
	return getContext<CardHeading | undefined>(KEY) ?? { level: 2, groupTitleId: null };
}
