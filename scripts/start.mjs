// `npm start`: the demo. Without `npm run setup` there is no tsx (nor anything else), and
// Node's "Cannot find package 'tsx'" does not say what to do.
let register;
try {
  ({ register } = await import('tsx/esm/api'));
} catch {
  console.error('npm start: the npm packages are not installed; run npm run setup first');
  process.exit(1);
}
register();
await import('./demo.ts');
