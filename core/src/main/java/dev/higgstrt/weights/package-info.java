/**
 * Named weights with their provenance: the immutable {@link dev.higgstrt.weights.WeightMap} of
 * lazy views with fuse, split, shard ({@link dev.higgstrt.weights.Shard}), cast and merge. A fused
 * weight remembers its parts, so that sharding it shards each part. Uses {@code tensor} only.
 */
package dev.higgstrt.weights;
