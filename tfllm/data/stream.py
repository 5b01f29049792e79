"""The training stream: endless batches whose order depends on the seed and nothing else.

The passes over the examples are shuffled by a shuffle op seeded from the
run's seed (TensorFlow's global seed plus the op seed), each pass in a new
order, and cut into full batches (optionally by length bucket); batch n of
the stream is the same in every process and every fresh pipeline. A run resumed at step n starts its stream at
batch n and trains on what the uninterrupted run would have; workers of a
distributed run read the same global batches and each keeps its share.
"""


def training_stream(examples, batch_size, shuffle_buffer, seed, start_batch=0, length=None,
                    bucket_boundaries=None):
    """Returns the stream of full training batches from batch `start_batch` on.

    Args:
        examples: a finite, unbatched tf.data.Dataset (cached if costly to make).
        batch_size: examples per batch (the global batch of a distributed run).
        shuffle_buffer: examples in the shuffle buffer.
        seed: the shuffle's op seed (with the global seed set by the run).
        start_batch: batches to skip: the step a resumed run continues from.
        length, bucket_boundaries: with both, each batch takes examples of one
            length bucket (`length(example)` against the boundaries), in the
            shuffled order they arrive; a bucket left part-full at the end of
            a pass fills up in the next, so no example is dropped.
    """
    stream = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if bucket_boundaries:
        stream = stream.repeat().bucket_by_sequence_length(
            length, bucket_boundaries, [batch_size] * (len(bucket_boundaries) + 1),
            drop_remainder=True)
    else:
        stream = stream.batch(batch_size, drop_remainder=True).repeat()
    return stream.skip(start_batch)
