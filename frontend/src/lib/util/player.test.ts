import { describe, expect, test } from 'vitest';
import { chooseEngine, failureMessage, hasMediaSource, hlsAction, isDecodeError, nativeAction } from './player';

describe('which engine plays the stream', () => {
	test('Media Source Extensions: MediaSource, ManagedMediaSource (iOS 17.1+), the prefixed one', () => {
		class M {}
		expect(hasMediaSource({ MediaSource: M })).toBe(true);
		expect(hasMediaSource({ ManagedMediaSource: M })).toBe(true);
		expect(hasMediaSource({ WebKitMediaSource: M })).toBe(true);
		expect(hasMediaSource({})).toBe(false);
		expect(hasMediaSource({ MediaSource: undefined })).toBe(false);
	});

	test('hls.js wherever MSE exists, even where the browser says it may play HLS (Chromium)', () => {
		expect(chooseEngine(true, true, true)).toBe('hls.js');
		expect(chooseEngine(true, true, false)).toBe('hls.js');
	});

	test('the browser’s own HLS only without MSE (iOS Safari), else nothing', () => {
		expect(chooseEngine(false, false, true)).toBe('native');
		expect(chooseEngine(true, false, true)).toBe('native');
		expect(chooseEngine(false, false, false)).toBe('none');
	});
});

describe('what to do about an hls.js error', () => {
	const fresh = { played: false, canRecover: true };
	test('a playlist not there (yet): retry, then "cannot be reached" with the status', () => {
		const e = { type: 'networkError', details: 'manifestLoadError', response: { code: 404 } };
		expect(hlsAction(e, fresh)).toEqual({ do: 'retry', failure: { kind: 'unreachable', status: 404 } });
		expect(hlsAction({ type: 'networkError', details: 'manifestLoadTimeOut' }, fresh)).toEqual({
			do: 'retry',
			failure: { kind: 'unreachable', status: undefined }
		});
	});

	test('a stream that went away after playing: retry, then "the camera stopped"', () => {
		const e = { type: 'networkError', details: 'levelLoadError', response: { code: 404 } };
		expect(hlsAction(e, { ...fresh, played: true })).toEqual({ do: 'retry', failure: { kind: 'stopped' } });
	});

	test('a damaged playlist is shown at once', () => {
		expect(hlsAction({ type: 'networkError', details: 'manifestParsingError' }, fresh)).toEqual({
			do: 'fail',
			failure: { kind: 'invalid' }
		});
	});

	test('a media error is recovered from once, then shown', () => {
		const e = { type: 'mediaError', details: 'bufferAppendError' };
		expect(hlsAction(e, fresh)).toEqual({ do: 'recover' });
		expect(hlsAction(e, { ...fresh, canRecover: false })).toEqual({ do: 'fail', failure: { kind: 'undecodable' } });
	});

	test('a codec the browser lacks is shown at once', () => {
		const e = { type: 'mediaError', details: 'manifestIncompatibleCodecsError' };
		expect(hlsAction(e, fresh)).toEqual({ do: 'fail', failure: { kind: 'undecodable' } });
	});

	test('anything else is shown with what hls.js called it', () => {
		expect(hlsAction({ type: 'otherError', details: 'internalException' }, fresh)).toEqual({
			do: 'fail',
			failure: { kind: 'other', detail: 'internalException' }
		});
	});

	test('parse and buffer errors are decode errors; stalls and network errors are not', () => {
		expect(isDecodeError({ type: 'mediaError', details: 'fragParsingError' })).toBe(true);
		expect(isDecodeError({ type: 'mediaError', details: 'bufferAppendError' })).toBe(true);
		expect(isDecodeError({ type: 'mediaError', details: 'bufferStalledError' })).toBe(false);
		expect(isDecodeError({ type: 'networkError', details: 'fragLoadError' })).toBe(false);
	});
});

describe('what to do about a native player error', () => {
	test('by MediaError code', () => {
		expect(nativeAction(1, { played: false })).toBeNull();
		expect(nativeAction(2, { played: false })).toEqual({ do: 'retry', failure: { kind: 'unreachable' } });
		expect(nativeAction(2, { played: true })).toEqual({ do: 'retry', failure: { kind: 'stopped' } });
		expect(nativeAction(3, { played: true })).toEqual({ do: 'fail', failure: { kind: 'undecodable' } });
		expect(nativeAction(4, { played: false })).toEqual({ do: 'retry', failure: { kind: 'unsupported' } });
	});
});

describe('the failure in words', () => {
	test.each([
		[{ kind: 'unreachable', status: 404 } as const, 'The video stream cannot be reached: the server answered 404 (not found).'],
		[{ kind: 'unreachable', status: 502 } as const, 'The video stream cannot be reached: the server answered 502.'],
		[{ kind: 'unreachable' } as const, 'The video stream cannot be reached: the server did not answer.'],
		[{ kind: 'stopped' } as const, 'The camera stopped sending video.'],
		[{ kind: 'undecodable' } as const, "This browser cannot decode the camera's video."],
		[{ kind: 'invalid' } as const, "The stream's playlist is damaged, so the video cannot be played."],
		[{ kind: 'unsupported' } as const, "This browser cannot play the camera's video stream."],
		[{ kind: 'other', detail: 'internalException' } as const, 'The video cannot be played: internalException.']
	])('%o', (failure, words) => {
		expect(failureMessage(failure)).toBe(words);
	});
});
