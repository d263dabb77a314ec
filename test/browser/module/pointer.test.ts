import { expect } from '@open-wc/testing';
import {
  WheelAccumulator,
  WheelButton,
  mapToFramebuffer,
  rfbButtons,
} from '../../../module/viewer/pointer.ts';

describe('viewer pointer helpers', () => {
  it('maps a box of the same aspect ratio linearly', () => {
    const box = { left: 10, top: 20, width: 640, height: 400 };
    const fb = { width: 1280, height: 800 };
    expect(mapToFramebuffer(10, 20, box, fb)).to.deep.equal({ x: 0, y: 0 });
    expect(mapToFramebuffer(330, 220, box, fb)).to.deep.equal({ x: 640, y: 400 });
    expect(mapToFramebuffer(649.9, 419.9, box, fb)).to.deep.equal({ x: 1279, y: 799 });
  });

  it('accounts for letterboxing (object-fit: contain) and clamps outside positions', () => {
    // 1000×400 box, 1280×800 picture → scale 0.5, picture 640 wide, 180 px bars left and right.
    const box = { left: 0, top: 0, width: 1000, height: 400 };
    const fb = { width: 1280, height: 800 };
    expect(mapToFramebuffer(180, 0, box, fb)).to.deep.equal({ x: 0, y: 0 });
    expect(mapToFramebuffer(500, 200, box, fb)).to.deep.equal({ x: 640, y: 400 });
    expect(mapToFramebuffer(5, 200, box, fb)).to.deep.equal({ x: 0, y: 400 });
    expect(mapToFramebuffer(999, 399, box, fb)).to.deep.equal({ x: 1279, y: 798 });
  });

  it('returns null before the framebuffer size is known', () => {
    expect(
      mapToFramebuffer(1, 1, { left: 0, top: 0, width: 10, height: 10 }, { width: 0, height: 0 }),
    ).to.equal(null);
  });

  it('converts DOM buttons to the RFB mask (left, middle, right)', () => {
    expect(rfbButtons(0)).to.equal(0);
    expect(rfbButtons(1)).to.equal(1); // primary → left
    expect(rfbButtons(4)).to.equal(2); // auxiliary → middle
    expect(rfbButtons(2)).to.equal(4); // secondary → right
    expect(rfbButtons(7)).to.equal(7);
    expect(rfbButtons(8 | 16)).to.equal(0); // back/forward dropped
  });

  it('turns wheel deltas into whole steps, carrying the remainder', () => {
    const wheel = new WheelAccumulator();
    const page = { width: 800, height: 600 };
    expect(wheel.push({ deltaX: 0, deltaY: 100, deltaMode: 0 }, page)).to.deep.equal([
      WheelButton.Down,
      WheelButton.Down,
    ]);
    expect(wheel.push({ deltaX: 0, deltaY: -30, deltaMode: 0 }, page)).to.deep.equal([]);
    expect(wheel.push({ deltaX: 0, deltaY: -30, deltaMode: 0 }, page)).to.deep.equal([WheelButton.Up]);
    expect(wheel.push({ deltaX: 60, deltaY: 0, deltaMode: 0 }, page)).to.deep.equal([WheelButton.Right]);
    wheel.reset();
    expect(wheel.push({ deltaX: 0, deltaY: 3, deltaMode: 1 }, page)).to.deep.equal([WheelButton.Down]);
    expect(wheel.push({ deltaX: 0, deltaY: 100000, deltaMode: 0 }, page)).to.have.length(10);
  });
});
