import { describe as group, expect, test } from 'vitest';
import { CONFIG_RANGES } from '$lib/api/generated/constants';
import { describe, describeProblem, fieldName, type GroupSpec, humanMessage, rangeOf, SECTIONS, valueAt } from './settings';

group('field names in messages', () => {
	test('a field is named by its label, an entry of a list by its number', () => {
		expect(fieldName('schedule', 'system')).toBe('“System”');
		expect(fieldName('camera', 'cameras[0].host')).toBe('“Host” of camera 1');
		expect(fieldName('aranet4', 'sensors[1].mac')).toBe('“Bluetooth address” of monitor 2');
		expect(fieldName('auth', 'trusted_proxies[2]')).toBe('entry 3 of “Trusted proxies”');
		expect(fieldName('auth', 'password_hash')).toBe('“Password”');
		expect(fieldName('sleep', '')).toBe('“Night”');
		// Never a path, even for a field with no label here.
		expect(fieldName('camera', 'cameras[0].onvif_wsdl_dir')).toBe('“onvif wsdl dir” of camera 1');
	});

	test('the gateway’s messages use the labels; an empty number field says what it takes', () => {
		expect(describe('schedule', 'system', 'schedule.system: must be a whole number, 0 or more (got "")', '')).toBe(
			'“System” is empty: enter a whole number from 5 to 86400.'
		);
		expect(describe('display', 'scroll_speed', 'display.scroll_speed: must be a number (got null)', null)).toBe(
			'“Scroll speed” is empty: enter a number from 0.01 to 1.'
		);
		expect(describe('display', 'scroll_speed', 'display.scroll_speed: must be between 0.01 and 1 s (got 5)', 5)).toBe(
			'“Scroll speed” must be between 0.01 and 1 s (got 5)'
		);
		expect(describe('auth', 'password', 'auth.password must be text of at least 8 characters', 'short')).toBe(
			'“New password” must be text of at least 8 characters'
		);
		expect(
			describe('auth', 'enabled', 'auth.enabled: cannot be true without a username and password_hash (or a trusted proxy for Tailscale logins)')
		).toBe('“Require a login” cannot be on without a username and “Password” (or a trusted proxy for Tailscale logins)');
		expect(describe('aranet4', 'sensors[1].label', 'aranet4.sensors[1].label: "kitchen" is already used by sensors[0]')).toBe(
			'“Name” of monitor 2: "kitchen" is already used by monitor 1'
		);
		// A list entry's field: the gateway's words, with the field's label.
		expect(describe('camera', 'cameras[0].port', 'camera.cameras[0].port: must be a whole number, 0 or more (got null)', null)).toBe(
			'“RTSP port” of camera 1 must be a whole number, 0 or more (got null)'
		);
		expect(humanMessage('display', 'rotation', 'must be one of 0, 90, 180, 270 (got 45); using 0')).toBe(
			'must be one of 0, 90, 180, 270 (got 45); using 0'
		);
	});

	test('problems and warnings name the section and the field', () => {
		expect(describeProblem('config:display.rotation: must be one of 0, 90, 180, 270 (got 45); using 0')).toBe(
			'LED display: “Rotation” must be one of 0, 90, 180, 270 (got 45); using 0'
		);
		expect(describeProblem('display.rotation: must be one of 0, 90, 180, 270 (got 45)')).toBe(
			'LED display: “Rotation” must be one of 0, 90, 180, 270 (got 45)'
		);
		expect(describeProblem('config:sleep is not valid JSON (expected value at line 1 column 1); using defaults')).toBe(
			'Night: the stored section is not valid JSON (expected value at line 1 column 1); using defaults'
		);
		expect(describeProblem('DISPLAY_ROTATION="x" is not a whole number; ignored')).toBe(
			'DISPLAY_ROTATION="x" is not a whole number; ignored'
		);
	});

	test('the MQTT section names its fields in words', () => {
		expect(describe('mqtt', 'host', 'mqtt.host must be set when MQTT is enabled (the broker’s host name or IP address)')).toBe(
			'“Broker” must be set when MQTT is enabled (the broker’s host name or IP address)'
		);
		expect(describeProblem('config:mqtt.base_topic: must not contain the MQTT wildcards + and # (got "a/#")')).toBe(
			'MQTT / Home Assistant: “Base topic” must not contain the MQTT wildcards + and # (got "a/#")'
		);
	});

	test('one title per section, and values found by path', () => {
		expect(new Set(SECTIONS.map((s) => s.title)).size).toBe(SECTIONS.length);
		expect(valueAt({ cameras: [{ host: 'a' }, { host: 'b' }] }, 'cameras[1].host')).toBe('b');
		expect(valueAt({ cameras: [] }, 'cameras[1].host')).toBeUndefined();
	});
});

group('number ranges come from the gateway', () => {
	// Every number setting the gateway bounds, as the settings page offers it: a section's field
	// (`display.scroll_speed`), a group's (`alerts.bus_down.seconds`), or a list entry's, which
	// its own editor takes from `rangeOf` (type-checked there).
	const offered = new Map<string, { min?: number; max?: number }>();
	for (const spec of SECTIONS) {
		for (const f of spec.fields) offered.set(`${spec.name}.${f.key}`, f);
		for (const [g, group] of Object.entries(spec.groups ?? {}) as Array<[string, GroupSpec]>)
			for (const f of group.fields) offered.set(`${spec.name}.${g}.${f.key}`, f);
	}

	test('each bounded field has the gateway’s range; a list entry’s is read where it is edited', () => {
		for (const [path, range] of Object.entries(CONFIG_RANGES)) {
			if (path.includes('[]')) continue;
			const field = offered.get(path);
			expect(field, path).toBeDefined();
			expect(field?.max, path).toBe(range.max);
			// The compensation factor also takes 0 (off), below its range.
			expect(field?.min, path).toBe(path === 'sensors.compensation_factor' ? 0 : range.min);
		}
		expect(rangeOf('camera.cameras[].port')).toEqual({ min: 1, max: 65535 });
	});
});
