import { expect } from '@open-wc/testing';

describe('browser test toolchain', () => {
  it('runs TypeScript in a real Chromium with OffscreenCanvas', () => {
    const canvas = document.createElement('canvas');
    expect(typeof canvas.transferControlToOffscreen).to.equal('function');
  });
});
