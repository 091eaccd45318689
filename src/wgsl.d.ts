// WGSL files are imported as their source text (Vite/Vitest through scripts/wgsl-plugin, esbuild through its text loader).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
