/**
 * `@novacron/hde`: codecs, codec selection, delta encoding and baselines.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './codecs/block-codec.js';
export { lz4DecodeFrames } from './codecs/lz4.js';
export { initZstd, zstdDecodeFrames, zstdReady } from './codecs/zstd.js';
export * from './codecs/registry.js';
export * from './frame/frame.js';
export * from './frame/chunk-frame.js';
export * from './delta/page-delta.js';
export { xbzrleDecode, xbzrleEncode } from './delta/xbzrle.js';
export * from './baseline/baseline-store.js';
export * from './selector/features.js';
export * from './selector/model.js';
export * from './selector/selector.js';
export { SELECTOR_MODEL } from './selector/model-data.js';
export * from './hde-codec.js';
export * from './delta/fastcdc.js';
export * from './delta/stream-delta.js';
export * from './stream/frame-stream.js';
export * from './stream/codec-worker-pool.js';
export * from './selector/calibrate.js';
