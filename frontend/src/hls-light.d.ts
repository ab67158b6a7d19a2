// hls.js ships types for its full build only; the light build has the same API (less the
// subtitle, alternate-audio and DRM controllers a camera never needs).
declare module 'hls.js/light' {
	export * from 'hls.js';
	export { default } from 'hls.js';
}
