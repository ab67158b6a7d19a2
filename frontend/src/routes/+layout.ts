// A single-page app: built to static files (adapter-static, fallback index.html), rendered in the
// browser only. The gateway serves index.html for every client-side route.
export const ssr = false;
export const prerender = false;
