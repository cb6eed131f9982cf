//! Sentence encoders (BERT, RoBERTa) in tch, for caption–class similarity.
