"""PyTorch's LSTM tagger tutorial, as PyTorch writes it with only its imports changed
(tests/pytorch_tutorial_lstm_tagger.py), runs on autograph and nets and learns its two sentences."""
import os
import runpy

import numpy as np

import autograph as ag

TUTORIAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_tutorial_lstm_tagger.py")


def test_the_lstm_tagger_tutorial_learns_its_two_sentences(capsys):
    run = runpy.run_path(TUTORIAL, run_name="tutorial")
    model, prepare = run["model"], run["prepare_sequence"]
    # the tutorial's remark: the last slice of "out" is the final hidden state
    np.testing.assert_array_equal(run["out"].numpy()[-1], run["hidden"][0].numpy()[0])
    assert run["out"].shape == (5, 1, 3)
    with ag.no_grad():
        for sentence, tags in run["training_data"]:
            scores = model(prepare(sentence, run["word_to_ix"]))
            assert scores.shape == (len(sentence), 3) and not scores.requires_grad
            np.testing.assert_array_equal(scores.argmax(dim=1).numpy(),
                                          [run["tag_to_ix"][t] for t in tags])
            # log-probabilities: each row's exponentials sum to one
            np.testing.assert_allclose(np.exp(scores.numpy()).sum(1), 1, rtol=1e-5)
    assert run["loss"].item() < 0.1
    printed = capsys.readouterr().out
    assert "{'The': 0, 'dog': 1, 'ate': 2" in printed
