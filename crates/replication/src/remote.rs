//! A replica renkei server as a site.
