// Installs what `npm start` and `npm test` need on a fresh Debian/Ubuntu machine: npm dependencies, and
// Chromium + TigerVNC + a window manager + a terminal through apt (as root or with passwordless sudo).
// Anything it cannot install, it names with the exact command to run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const APT_PACKAGES = [
  'chromium',
  'tigervnc-standalone-server',
  'tigervnc-tools',
  'xterm',
  'openbox',
  'x11-xserver-utils',
  'xfonts-base',
  'fonts-dejavu-core',
];
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`setup: "${cmd} ${args.join(' ')}" failed`);
    process.exit(r.status ?? 1);
  }
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

// npm dependencies: install when missing or older than the lockfile.
const lock = 'package-lock.json';
const installed = 'node_modules/.package-lock.json';
if (
  !existsSync(installed) ||
  (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs + 1000)
) {
  run('npm', existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

const missing = [];
if (!existsSync(chromium)) missing.push('chromium');
if (!has('Xvnc')) missing.push('tigervnc-standalone-server');
if (!has('vncpasswd')) missing.push('tigervnc-tools');
if (!has('xterm')) missing.push('xterm');
if (!has('openbox')) missing.push('openbox');
if (!existsSync('/usr/share/fonts/X11/misc/fonts.dir')) missing.push('xfonts-base');

if (missing.length > 0) {
  const isRoot = process.getuid?.() === 0;
  const sudo = !isRoot && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  const cmd = `apt-get update && apt-get install -y ${APT_PACKAGES.join(' ')}`;
  if (!isRoot && !sudo) {
    console.error(`setup: missing system packages (${missing.join(', ')}). Run:\n  sudo sh -c '${cmd}'`);
    process.exit(1);
  }
  console.log(`setup: installing ${APT_PACKAGES.join(' ')}`);
  const [bin, ...pre] = isRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync(bin, [...pre, 'update', '-qq'], { stdio: 'inherit', env });
  execFileSync(bin, [...pre, 'install', '-y', '-qq', ...APT_PACKAGES], { stdio: 'inherit', env });
}
