package io.autoglm.backend;

import io.autoglm.safetensors.TensorSlice;

/**
 * One routed expert's SiLU MLP as mapped from a checkpoint (never copied to the heap).
 *
 * @param gate (moeIntermediate, hidden)
 * @param up (moeIntermediate, hidden)
 * @param down (hidden, moeIntermediate)
 */
public record ExpertSlices(TensorSlice gate, TensorSlice up, TensorSlice down) {}
