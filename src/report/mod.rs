//! Reports: figures and tables drawn from serialized results. Reports render; they do not compute.
