import { describe, expect, test } from 'vitest';
import type { ConfigView } from '$lib/api/types';
import { formTitle, overrideName, overridePatch, overrideRevision, ownFields, ROOM_LISTS, ROOM_SECTIONS, roomValue, shownList, shownValue, splitName } from './overrides';
import { display, SECTIONS, sleep } from './settings';

const field = (spec: typeof display | typeof sleep, key: string) => spec.fields.find((f) => f.key === key)!;
const rotation = field(display, 'rotation');
const lowLight = field(display, 'low_light');
const start = field(sleep, 'start_hour');

const config = {
	display: { rotation: 0, low_light: false, scroll_speed: 0.1 },
	sleep: { start_hour: 22, end_hour: 6, disable_pi_leds: false },
	aranet4: {
		timeout: 10,
		sensors: [
			{ label: 'office', mac: 'AA:BB:CC:DD:EE:01', enabled: true },
			{ label: 'bedroom', mac: 'AA:BB:CC:DD:EE:02', enabled: true }
		]
	},
	_overrides: { 'display@kitchen': { fields: { rotation: 180 }, revision: 'r1' } }
} as unknown as ConfigView;

describe('a room’s own settings', () => {
	test('names: display@kitchen, split back', () => {
		expect(overrideName('display', 'kitchen')).toBe('display@kitchen');
		expect(splitName('display@living-room')).toEqual(['display', 'living-room']);
		expect(splitName('display')).toEqual(['display', null]);
	});

	test('the fields a room sets and the revision a save sends back (“none” when it sets none)', () => {
		expect(ownFields(config, 'display', 'kitchen')).toEqual({ rotation: 180 });
		expect(ownFields(config, 'sleep', 'kitchen')).toEqual({});
		expect(ownFields(config, 'display', 'hall')).toEqual({});
		expect(ownFields(null, 'display', 'kitchen')).toEqual({});
		expect(overrideRevision(config, 'display@kitchen')).toBe('r1');
		expect(overrideRevision(config, 'sleep@kitchen')).toBe('none');
	});

	test('a field shows the room’s own value, or the shared one it follows, in words', () => {
		const own = ownFields(config, 'display', 'kitchen');
		expect(roomValue(config, 'display', rotation, own)).toEqual({ own: true, value: 180, shared: 0, text: '180°' });
		expect(roomValue(config, 'display', lowLight, own)).toEqual({
			own: false,
			value: false,
			shared: false,
			text: 'As the shared setting: off'
		});
		expect(roomValue(config, 'display', rotation, {}).text).toBe('As the shared setting: 0°');
		expect(roomValue(config, 'sleep', start, {}).text).toBe('As the shared setting: 22:00');
		// An own value equal to the shared one is still the room's own: it stays if the shared changes.
		expect(roomValue(config, 'display', rotation, { rotation: 0 })).toMatchObject({ own: true, text: '0°' });
	});

	test('values in words', () => {
		expect(shownValue(rotation, 270)).toBe('270°');
		expect(shownValue(lowLight, true)).toBe('on');
		expect(shownValue(field(display, 'scroll_speed'), 0.05)).toBe('0.05');
		expect(shownValue(field(display, 'scroll_speed'), undefined)).toBe('not set');
	});

	test('a save sends what was set or changed, and null for each field reset to follow the shared value', () => {
		const stored = { rotation: 180, low_light: true };
		expect(overridePatch(stored, { rotation: 180, low_light: true })).toEqual({});
		expect(overridePatch({}, { rotation: 180 })).toEqual({ rotation: 180 });
		expect(overridePatch(stored, { rotation: 90, low_light: true })).toEqual({ rotation: 90 });
		// Reset: the field leaves the draft.
		expect(overridePatch(stored, { low_light: true })).toEqual({ rotation: null });
		expect(overridePatch(stored, {})).toEqual({ rotation: null, low_light: null });
		// Reset and set again to the value stored: nothing to send.
		expect(overridePatch({ rotation: 180 }, { rotation: 180 })).toEqual({});
		// Set and reset one field, set another, in one save.
		expect(overridePatch(stored, { low_light: true, scroll_speed: 0.2 })).toEqual({ rotation: null, scroll_speed: 0.2 });
	});

	test('a form with changes not saved is named by its room and title', () => {
		const rooms = [{ name: 'kitchen', room: 'Kitchen' }];
		expect(formTitle('display', SECTIONS, rooms)).toBe('LED display');
		expect(formTitle('display@kitchen', SECTIONS, rooms)).toBe('Kitchen: LED display');
		expect(formTitle('sleep@attic', SECTIONS, rooms)).toBe('attic: Night');
	});

	test('a room’s own monitors: the list in words by their names, its own or the shared one', () => {
		const monitors = { key: 'sensors', label: 'Monitors', kind: 'list' } as const;
		expect(roomValue(config, 'aranet4', monitors, {}).text).toBe('As the shared setting: office, bedroom');
		const own = { sensors: [{ label: 'kitchen', mac: 'AA:BB:CC:DD:EE:03', enabled: true }] };
		expect(roomValue(config, 'aranet4', monitors, own)).toMatchObject({ own: true, text: 'kitchen' });
		expect(roomValue(config, 'aranet4', monitors, { sensors: [] }).text).toBe('none');
		expect(shownList(['a', 'b'])).toBe('a, b');
		// Every list a room may have its own of is a list of a section a room may set.
		for (const path of ROOM_LISTS) {
			const [section, key] = path.split('.') as [string, string];
			expect(ROOM_SECTIONS as ReadonlyArray<string>).toContain(section);
			expect(SECTIONS.find((s) => s.name === section)?.lists).toHaveProperty(key);
		}
	});
});
