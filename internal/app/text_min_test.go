package app

// minAgreement: see TestTextCorpus.
const minAgreement = 0.95
