-- The curated reviews (DATA_CONTRACT.md section 2) and the marker table of completed loads.
CREATE TABLE IF NOT EXISTS wine_reviews (
    review_id             CHAR(40) CHARACTER SET ascii NOT NULL,
    country               VARCHAR(64) NULL,
    description           MEDIUMTEXT NOT NULL,
    designation           VARCHAR(255) NULL,
    points                TINYINT UNSIGNED NOT NULL,
    price                 DECIMAL(10,2) NULL,
    province              VARCHAR(128) NULL,
    region_1              VARCHAR(128) NULL,
    region_2              VARCHAR(128) NULL,
    taster_name           VARCHAR(128) NULL,
    taster_twitter_handle VARCHAR(64) NULL,
    title                 VARCHAR(512) NULL,
    variety               VARCHAR(128) NOT NULL,
    winery                VARCHAR(255) NOT NULL,
    vintage               SMALLINT UNSIGNED NULL,
    num_wines_of_variety  INT UNSIGNED NOT NULL,
    source_name           VARCHAR(64) NOT NULL,
    source_row            INT UNSIGNED NOT NULL,
    batch_date            DATE NOT NULL,
    first_loaded_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- Only moves when an upsert really changes a value.
    updated_at            TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (review_id),
    KEY idx_wine_reviews_variety (variety),
    KEY idx_wine_reviews_country (country),
    KEY idx_wine_reviews_points (points),
    KEY idx_wine_reviews_batch_date (batch_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS table_updates (
    update_id    VARCHAR(255) NOT NULL,
    target_table VARCHAR(128) NOT NULL,
    inserted     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (update_id, target_table)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
