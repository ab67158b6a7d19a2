// What the camera player does: which engine plays the HLS stream, what to do about an error, and
// how to say what went wrong. Pure, so it is tested without a browser; HlsPlayer.svelte runs it.
//
// No value import of hls.js here: it must stay in its own chunk, loaded only for the stream.

/** hls.js (over Media Source Extensions), the browser's own HLS, or nothing that can play it. */
export type Engine = 'hls.js' | 'native' | 'none';

/** Whether the browser has Media Source Extensions: `MediaSource`, or Safari's `ManagedMediaSource`
 *  (iOS 17.1 and later), or the old prefixed one. */
export function hasMediaSource(scope: object): boolean {
	const s = scope as Record<string, unknown>;
	return ['MediaSource', 'ManagedMediaSource', 'WebKitMediaSource'].some((k) => typeof s[k] === 'function');
}

/**
 * hls.js wherever Media Source Extensions exist and hls.js can use them; the browser's own HLS only
 * where they do not (iOS Safari before 17.1).
 *
 * `canPlayType('application/vnd.apple.mpegurl')` decides nothing where MSE exists: Chromium answers
 * "maybe" and then fails on a live playlist (`DEMUXER_ERROR_COULD_NOT_PARSE`) that hls.js plays.
 */
export function chooseEngine(mse: boolean, hlsSupported: boolean, native: boolean): Engine {
	if (mse && hlsSupported) return 'hls.js';
	if (native) return 'native';
	return 'none';
}

/** What went wrong, as the player says it. */
export type Failure =
	| { kind: 'unreachable'; status?: number }
	| { kind: 'stopped' }
	| { kind: 'undecodable' }
	| { kind: 'invalid' }
	| { kind: 'unsupported' }
	| { kind: 'other'; detail: string };

/** The failure in plain words. */
export function failureMessage(f: Failure): string {
	switch (f.kind) {
		case 'unreachable':
			return f.status
				? `The video stream cannot be reached: the server answered ${f.status}${f.status === 404 ? ' (not found)' : ''}.`
				: 'The video stream cannot be reached: the server did not answer.';
		case 'stopped':
			return 'The camera stopped sending video.';
		case 'undecodable':
			return "This browser cannot decode the camera's video.";
		case 'invalid':
			return "The stream's playlist is damaged, so the video cannot be played.";
		case 'unsupported':
			return "This browser cannot play the camera's video stream.";
		case 'other':
			return `The video cannot be played: ${f.detail}.`;
	}
}

/**
 * What to do about a fatal error:
 * - `retry`: load the stream again after a pause (the playlist is not there yet, or went away for
 *   a moment); once the retries are used up, show `failure`.
 * - `recover`: hls.js's `recoverMediaError()`, tried before a media error is shown.
 * - `fail`: show `failure` now (with a Retry button).
 */
export type Action = Settle | { do: 'recover' };
/** An action that ends in the failure shown, now or once the retries are used up. */
export type Settle = { do: 'retry'; failure: Failure } | { do: 'fail'; failure: Failure };

/** A fatal hls.js error as the player needs it (hls.js's `ErrorData` is one). */
export interface HlsError {
	type: string;
	details: string;
	response?: { code?: number } | undefined;
}

/** hls.js's error details (`ErrorDetails`) that no retry or recovery can mend: the codecs. */
const CODEC_ERRORS = ['manifestIncompatibleCodecsError', 'bufferIncompatibleCodecsError', 'bufferAddCodecError'];

/** Whether an hls.js error, fatal or not, says that what it loaded could not be parsed or
 *  buffered (not a stall or a network error): a video that then never plays is undecodable. */
export function isDecodeError(e: HlsError): boolean {
	return (
		e.type === 'mediaError' &&
		(CODEC_ERRORS.includes(e.details) || ['fragParsingError', 'bufferAppendError', 'bufferAppendingError'].includes(e.details))
	);
}

/**
 * What to do about a fatal hls.js error. `played`: the video has played since it was loaded;
 * `canRecover`: no media error was recovered from a moment ago.
 */
export function hlsAction(e: HlsError, { played, canRecover }: { played: boolean; canRecover: boolean }): Action {
	switch (e.type) {
		case 'networkError': {
			if (e.details === 'manifestParsingError') return { do: 'fail', failure: { kind: 'invalid' } };
			// A playlist not written yet, or a moment without one: load it again, a few times.
			const status = e.response?.code || undefined;
			return { do: 'retry', failure: played ? { kind: 'stopped' } : { kind: 'unreachable', status } };
		}
		case 'mediaError':
			if (CODEC_ERRORS.includes(e.details)) return { do: 'fail', failure: { kind: 'undecodable' } };
			return canRecover ? { do: 'recover' } : { do: 'fail', failure: { kind: 'undecodable' } };
		default:
			return { do: 'fail', failure: { kind: 'other', detail: e.details || e.type } };
	}
}

/**
 * What to do about the `error` of a video element playing HLS natively, by its `MediaError` code:
 * 1 aborted (nothing: it was stopped on purpose), 2 network, 3 decode, 4 source not supported
 * (Safari says 4 for a playlist that is not there yet too, so that one is retried; the player
 * tells the two apart when the retries are used up).
 */
export function nativeAction(code: number, { played }: { played: boolean }): Settle | null {
	switch (code) {
		case 1:
			return null;
		case 2:
			return { do: 'retry', failure: played ? { kind: 'stopped' } : { kind: 'unreachable' } };
		case 3:
			return { do: 'fail', failure: { kind: 'undecodable' } };
		default:
			return { do: 'retry', failure: played ? { kind: 'stopped' } : { kind: 'unsupported' } };
	}
}
